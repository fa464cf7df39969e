"""The retrain service: a process-wide job queue that trains a page's arms live."""
