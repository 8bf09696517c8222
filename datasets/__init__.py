"""storelens.datasets: the synthetic multi-camera store simulator, dataset formats (YOLO, COCO,
MOTChallenge) and adapters for public datasets. Knows nothing about serving.
"""
