"""Device alerts (设备报警): signed IoT ingestion, rules, one alert per incident, escalation, acknowledgement."""
