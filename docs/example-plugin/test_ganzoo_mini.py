"""The example plugins' own tests: ganzoo's contract kit, one line per model.

Run with ``pytest test_ganzoo_mini.py`` once the plugin is importable (``pip install .``).
"""

from ganzoo.testing import contract_tests

from ganzoo_mini import MiniGan
from ganzoo_mini_words import MiniWords

test_mini_gan = contract_tests(MiniGan)      # config, train_step, save_load, generate, determinism
test_mini_words = contract_tests(MiniWords)
