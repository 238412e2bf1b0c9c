"""Webhook notifications: generic JSON and Slack-compatible payloads, retried delivery."""
