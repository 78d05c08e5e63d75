"""The virtual waiting room: a queue per event in Redis (Lua scripts in `lua/`)."""
