DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE audit_log;
DROP TABLE api_tokens;
