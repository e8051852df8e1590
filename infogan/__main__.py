"""`python -m infogan ...` (also what `torchrun -m infogan` runs)."""

from infogan.cli import run

if __name__ == "__main__":
    run()
