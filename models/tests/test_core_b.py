"""The one command's second core (train.py's CoreB), with real child processes that succeed or fail:
the ablation starts only from a finished LM pretraining, and each outcome reaches the main thread."""
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import train  # noqa: E402


def child(code: int):
    return lambda: subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])


class CoreB(unittest.TestCase):
    def test_ablation_after_the_lm(self):
        started = []
        core = train.CoreB(child(0), lambda: started.append(1) or child(0)(), time.time())
        self.assertTrue(core.lm_done())
        self.assertTrue(core.ablation_done())
        self.assertEqual(started, [1])

    def test_failed_lm_starts_no_ablation(self):
        started = []
        core = train.CoreB(child(3), lambda: started.append(1) or child(0)(), time.time())
        self.assertFalse(core.lm_done())
        self.assertFalse(core.ablation_done())
        self.assertEqual(started, [])

    def test_failed_ablation_is_reported(self):
        core = train.CoreB(child(0), child(2), time.time())
        self.assertTrue(core.lm_done())
        self.assertFalse(core.ablation_done())

    def test_no_lm_pretraining(self):
        core = train.CoreB(lambda: None, child(0), time.time())
        self.assertTrue(core.lm_done())
        self.assertTrue(core.ablation_done())


if __name__ == "__main__":
    unittest.main()
