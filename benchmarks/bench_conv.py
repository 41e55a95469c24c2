"""conv2d / pooling / LeNet training-step benchmark; see tinygrad_cnn/bench.py.

Run: python benchmarks/bench_conv.py [--repeat N]   (same as: python -m tinygrad_cnn bench)
"""

from tinygrad_cnn.bench import main

if __name__ == "__main__":
    main()
