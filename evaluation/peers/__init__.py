"""The open trackers storelens is measured against (benchmarks only): roboflow `trackers` and
deep-sort-realtime in this environment (`trackers`), boxmot in its own (`boxmot_peers`)."""
