"""``python -m orchestra``: the ``orchestra`` command line."""

from orchestra.cli import main

if __name__ == "__main__":
    main(prog_name="orchestra")
