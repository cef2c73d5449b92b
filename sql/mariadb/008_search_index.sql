-- Full-text index for SEARCH and HistServ SEARCH.
ALTER TABLE messages ADD FULLTEXT INDEX messages_text (text);
