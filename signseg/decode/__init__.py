"""Decode: video files (and images) into uint8 RGB frames, streamed; the flow's first stage."""
