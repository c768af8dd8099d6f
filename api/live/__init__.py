"""Live streams and replays of community events (线上观看及回看): signed push/play URLs, the stream
server's callbacks, and viewing figures from the mini-program's heartbeats."""
