"""How each outside client is built and spoken to, one small module each: Redis connections,
Lua scripts, the job queue (ARQ) and Kafka. The wiring module (`ticketing_app/bootstrap.py`)
calls these once per process; nothing here holds a rule of the product."""
