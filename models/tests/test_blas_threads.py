"""models/py keeps Debian's OpenBLAS to one thread: its own threads fought torch's on 2 cores."""
import os
import subprocess
import unittest

PY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "py")

# What the BLAS library itself reports, from the process that models/py started (numpy and torch load
# the same libblas; the symbol is OpenBLAS's own).
PROBE = r"""
import ctypes, numpy, torch
path = next(l.split()[-1] for l in open("/proc/self/maps") if "openblas" in l or "libblas" in l)
lib = ctypes.CDLL(path)
print(lib.openblas_get_num_threads() if hasattr(lib, "openblas_get_num_threads") else "no-openblas")
"""


def blas_threads(env):
    out = subprocess.run([PY, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


class BlasThreadsTest(unittest.TestCase):
    def setUp(self):
        self.env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
        if blas_threads({**self.env, "OPENBLAS_NUM_THREADS": "2"}) == "no-openblas":
            self.skipTest("the BLAS library here is not OpenBLAS")

    def test_one_thread_by_default(self):
        self.assertEqual(blas_threads(self.env), "1")

    def test_callers_setting_is_kept(self):
        if len(os.sched_getaffinity(0)) < 2:
            self.skipTest("OpenBLAS caps its threads at the CPUs this process may use")
        self.assertEqual(blas_threads({**self.env, "OPENBLAS_NUM_THREADS": "2"}), "2")


if __name__ == "__main__":
    unittest.main()
