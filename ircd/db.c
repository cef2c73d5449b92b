/* db.c - what the database drivers share: multi-row INSERTs built from a one-row one. */
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The VALUES row of sql, an INSERT written "... VALUES (?, ...)": NULL if there is none. */
static const char *values_row(const char *sql)
{
	const char *v = strstr(sql, " VALUES (");
	return v ? v + 8 : NULL;
}

enum db_status db_exec_rows_chunked(db_exec_fn exec, void *db, const char *sql, const struct db_param *params,
                                    int ncols, int nrows, int max_rows, char *err, size_t size)
{
	const char *row = values_row(sql);
	if (!row) {
		snprintf(err, size, "no VALUES row in %s", sql);
		return DB_ERROR;
	}
	size_t head = (size_t)(row - sql), rowlen = strlen(row);
	char *text = malloc(head + (size_t)max_rows * (rowlen + 1) + 1);
	if (!text)
		abort();
	memcpy(text, sql, head);
	enum db_status s = DB_OK;
	for (int done = 0, k; done < nrows && s == DB_OK; done += k) {
		for (k = max_rows; k > nrows - done; k /= 2)
			;
		size_t len = head;
		for (int i = 0; i < k; i++) {
			if (i)
				text[len++] = ',';
			memcpy(text + len, row, rowlen);
			len += rowlen;
		}
		text[len] = '\0';
		s = exec(db, text, params + (size_t)done * (size_t)ncols, k * ncols, NULL, NULL, err, size);
	}
	free(text);
	return s;
}
