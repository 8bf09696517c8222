"""Dataset formats the field's tools read: MOTChallenge, YOLO and COCO."""
