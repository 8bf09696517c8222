"""storelens.evaluation: figures a reviewer can trust — metrics for every stage (TrackEval for
tracking, COCO mAP for detectors), offline runners over simulated or recorded stores
(`storelens run` / `storelens eval`), synthetic detections, and the benchmark suites with their
peers (`storelens bench`).

May import any subpackage but serving; nothing online imports it.
"""
