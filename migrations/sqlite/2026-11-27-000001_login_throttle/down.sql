DROP INDEX sessions_last_seen;
DROP TABLE login_throttle;
