DROP INDEX messages_status;
DROP INDEX messages_agent_reply;
DROP INDEX tickets_report_closed;
DROP INDEX tickets_created;
