"""Browser tests: the built site in Debian Chromium, driven by Playwright."""
