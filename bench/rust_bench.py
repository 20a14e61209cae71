"""Rust backend SPS beside the interpreter and JAX: see envc/codegen/rust/bench.py.

    python bench/rust_bench.py specs/tictactoe.envspec [--batches 1,64,1024,8192] [--threads 1,2]
"""

import sys

from envc.codegen.rust.bench import main

if __name__ == "__main__":
    sys.exit(main())
