"""The serving side: which family a checkpoint is and what `vllm serve` needs for it.

`families` (the family table, data only) -> `checkpoint` (what a local copy tells) ->
`parameters` (sizes of a Nemotron-H config) -> `planning` (GPUs, TP/PP/EP) ->
`template_choice` -> `recipes` (the flags and why) -> `preflight` (doctor's checks, including
the flag combinations users hit upstream, in `known_issues`). `local_server` runs vLLM's OpenAI
server in a child process. Each module imports only those before it.
"""
