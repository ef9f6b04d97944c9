"""vLLM model classes for the Nemotron families that in-tree vLLM serves wrongly or not at all."""
