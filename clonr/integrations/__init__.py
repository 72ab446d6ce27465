"""Where clones live outside Clonr's own pages: Discord bots (and, later, live feeds)."""
