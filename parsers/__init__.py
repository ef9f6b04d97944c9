"""Tool-call and reasoning parsers, one self-contained file each.

`vllm_nemotron.register()` registers them lazily by name. Every file imports only vLLM and
third-party packages, so it also works by path as a drop-in:
`--tool-parser-plugin .../llama_nemotron_json_tool_parser.py`.
"""
