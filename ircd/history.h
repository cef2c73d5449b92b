/* history.h - message history: every channel message (and direct messages, if
 * configured) written in batches by the storage thread, replayed on JOIN, and read back
 * with CHATHISTORY (IRCv3 draft/chathistory). */
#ifndef PARLEY_HISTORY_H
#define PARLEY_HISTORY_H

#include <stdbool.h>

struct client;
struct channel;
struct outmsg;
struct msg;

/* Queues o (a PRIVMSG/NOTICE/TAGMSG from sender to target) for storage. target is the
 * channel name or the recipient client (to, NULL for channels). */
void history_record(const struct outmsg *o, const struct client *sender, const char *command, const char *target,
                    const struct client *to, const char *text, const char *tags);

/* c (logged in) sent command (PRIVMSG or NOTICE) o to target, a nick nobody is using:
 * if target is a registered account's, o is kept for its next login (offline.c), and c
 * gets the echo (when echo) and a 301 once it is stored, or 401 when target is no
 * account. Returns false, having done nothing, when offline messages do not apply (c
 * not logged in, history or offline_messages off): the caller answers 401 itself.
 * Holds c's input until the answer. */
bool offline_keep(struct client *c, const char *command, const char *target, const struct outmsg *o,
                  const char *text, const char *tags, bool echo);

/* Like offline_keep, for a user who is online without a connection (always-on): the
 * recipient is account, and the sender's 301 carries away. */
bool offline_keep_for(struct client *c, const char *command, const char *target, const char *account,
                      const char *away, const struct outmsg *o, const char *text, const char *tags, bool echo);

/* Replays recent history of ch to c after it joined (unless c handles CHATHISTORY). */
void history_replay_join(struct client *c, struct channel *ch);

/* ChanServ registered ch, which existed unregistered, with floor (the first seq of the
 * lifetime it was registered in, stored with the room): the messages of the name's
 * earlier lifetimes (below floor) are deleted, fire and forget. Nothing depends on that
 * delete: the stored floor keeps them unreadable after a restart (a room loaded at start
 * shows its history from its stored floor on). */
void history_channel_registered(const struct channel *ch, unsigned long long floor);

/* Starts the retention timer (history.max_age_days). */
void history_start(void);

/* Hands the pending batch to the storage thread now (a read must be queued after every
 * message relayed before it). */
void history_flush(void);

/* Rows relayed and not yet written or journaled: the open batch and those handed to the
 * storage thread (metrics). */
long history_queued_rows(void);

/* At shutdown, before storage_stop: queues the pending batch and a replay of the journal,
 * and has the storage thread write everything still queued to the database (when it is
 * reachable) rather than divert it to the journal. */
void history_drain(void);

/* On the storage thread, before a statement that reads or changes stored messages:
 * writes what went to the journal while the database was behind or down (when it can), so
 * the statement sees every message relayed before it. */
void history_catch_up(void);

void cmd_chathistory(struct client *c, struct msg *m);

/* Sends c its read marker for ch during a JOIN, before RPL_ENDOFNAMES (draft/read-marker). */
void readmarker_joined(struct client *c, const struct channel *ch);

/* Loads the markers of c's account after it logged in. */
void readmarker_login(struct client *c);
/* c is registered and logged in at the end of its welcome: sends it the account's
 * stored markers (draft/read-marker), without waiting. */
void readmarker_session_start(struct client *c);

/* c's session starts logged in (the end of its welcome): its markers and the offline
 * messages kept for its account. */
void history_session_start(struct client *c);

/* c (registered, logged in) is sent the offline messages kept for its account. */
void offline_deliver(struct client *c);
/* Moves c's account's marker for target forward to ms, as if c had sent MARKREAD (its
 * sessions with draft/read-marker are told once it is stored); nothing waits for it. */
void readmarker_advance(const struct client *c, const char *target, long long ms);

/* c, logged in, is leaving ch (PART, KICK, QUIT): stores where its next catch-up there
 * starts. Fire and forget. */
void readmarker_left(const struct client *c, const struct channel *ch);

/* Submits the departures readmarker_left collected this loop iteration now (at shutdown,
 * from history_drain, before the storage thread stops). */
void readmarker_flush_seen(void);

/* Forgets c's markers as a guest (c is quitting). */
void readmarker_client_exit(struct client *c);
void cmd_redact(struct client *c, struct msg *m);
void cmd_search(struct client *c, struct msg *m);

/* Deletes (redacts) msgid in target if c sent it or is a channel operator there. With
 * histserv the answers are HistServ NOTICEs instead of standard replies. */
void history_redact(struct client *c, const char *target, const char *msgid, const char *reason, bool histserv);

/* HistServ: the last count messages of target, or a search, as NOTICEs. */
void history_histserv_play(struct client *c, const char *target, int count);
void history_histserv_search(struct client *c, const char *target, const char *words);

#endif
