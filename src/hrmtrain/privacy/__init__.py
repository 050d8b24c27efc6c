"""Privacy services every stage that touches household text shares: who lives in the household
(`directory`), what each member allowed (`consent`), and PII redaction (`redact`, with its per-type and
per-locale rules in `pii/`). Below all stages: it imports none."""
