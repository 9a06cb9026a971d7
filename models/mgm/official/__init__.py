"""The released Mini-Gemini architecture under its official state-dict names, with readers for the
checkpoint formats it ships in (config.json, safetensors, sharded torch .bin), so a released folder
loads with strict state-dict loading and no transformers, safetensors or open_clip package."""
