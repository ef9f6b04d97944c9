"""Shared test harness: tiny checkpoints, a tokenizer, the OpenAI server fixture."""
