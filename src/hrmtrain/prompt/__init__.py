"""The L-Module's prompt, shared by the stage that trains it and the stages that run it: its system prompt
(`system`) and the chat encoding that renders a conversation exactly as the model sees it at inference
(`chat`). Below all stages: it imports none."""
