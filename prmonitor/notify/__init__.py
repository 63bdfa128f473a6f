"""Notifications: a PR's failure picture (picture) rendered (messages, markdown) and published on
its channels (channels: the sticky comment, the neutral check run, Slack, the log) by the worker
(sender), exactly once, at GitHub's pace (pace), from the outbox storage.outbox keeps."""
