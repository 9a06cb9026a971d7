"""models/py keeps Debian's OpenBLAS to one thread: its own threads fought torch's on 2 cores."""
import os
import subprocess
import unittest

PY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "py")

# What the BLAS library itself reports, from the process that models/py started. On Debian numpy and
# torch load libblas.so.3 from the openblas-pthread alternative, which resolves OpenBLAS's own symbol;
# with another BLAS (MKL, a wheel's prefixed OpenBLAS) the test skips.
PROBE = r"""
import ctypes, os, numpy, torch
maps = open("/proc/self/maps").read().splitlines() if os.path.exists("/proc/self/maps") else []
path = next((l.split()[-1] for l in maps if "openblas" in l or "libblas" in l), None)
lib = ctypes.CDLL(path) if path else None
print(lib.openblas_get_num_threads() if lib is not None and hasattr(lib, "openblas_get_num_threads")
      else "no-openblas")
"""


def blas_threads(env):
    out = subprocess.run([PY, "-c", PROBE], env=env, capture_output=True, text=True)
    if out.returncode:
        raise AssertionError(f"probe failed: {out.stderr}")
    return out.stdout.strip()


class BlasThreadsTest(unittest.TestCase):
    def setUp(self):
        # OpenBLAS falls back on these when its own variable is unset: they would hide a missing default
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "GOTO_NUM_THREADS")}
        if len(os.sched_getaffinity(0)) < 2:
            self.skipTest("OpenBLAS caps its threads at the CPUs this process may use: one thread either way")
        if blas_threads({**self.env, "OPENBLAS_NUM_THREADS": "2"}) == "no-openblas":
            self.skipTest("the BLAS library here is not OpenBLAS")

    def test_one_thread_by_default(self):
        self.assertEqual(blas_threads(self.env), "1")

    def test_callers_setting_is_kept(self):
        self.assertEqual(blas_threads({**self.env, "OPENBLAS_NUM_THREADS": "2"}), "2")


if __name__ == "__main__":
    unittest.main()
