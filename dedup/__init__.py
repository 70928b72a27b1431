dedup: near-duplicate and rewrite detector for news copy.
