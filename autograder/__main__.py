"""Allow ``python -m autograder``; run_autograder uses this form so it needs no console script."""

from autograder.cli import main

if __name__ == "__main__":
    main()
