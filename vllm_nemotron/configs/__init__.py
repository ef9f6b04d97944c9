"""Config classes that vLLM and transformers lack for the Nemotron families."""

_registered = False


def register_configs() -> None:
    """Register `nemotron-nas` with transformers' AutoConfig (idempotent, cheap).

    A registered, non-transformers class takes precedence over a checkpoint's `auto_map`,
    so DeciLM checkpoints load without `--trust-remote-code` and also load, with this same
    class, when the user passes it. vLLM's summary of the architecture (KV heads) gets our
    convertor, which also understands linear-replaced attention.
    """
    global _registered
    if _registered:
        return
    from transformers import AutoConfig

    from .arch_convertor import register_arch_convertor
    from .nemotron_nas import NemotronNasConfig

    AutoConfig.register(NemotronNasConfig.model_type, NemotronNasConfig, exist_ok=True)
    register_arch_convertor(NemotronNasConfig.model_type)
    _registered = True
