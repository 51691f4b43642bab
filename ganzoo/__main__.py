"""`python -m ganzoo` (what `torchrun -m ganzoo` runs); `python -m ganzoo worker RUN_DIR` is a bench worker."""

import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:  # started by `ganzoo bench` for one run (see ganzoo.worker)
        from ganzoo.worker import main as worker_main

        sys.exit(worker_main(sys.argv[2:]))
    from ganzoo.cli import main

    main()
