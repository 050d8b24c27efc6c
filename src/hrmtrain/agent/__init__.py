"""The assistant at work, shared by the stage that trains the L-Module (its validation tasks choose the saved
weights) and the stages that measure and serve it: household tasks (`tasks`), the policies that answer
them (`policies`: the local model with its KV cache (`kv_cache`), a scripted one), and the HRM loop that
runs an episode on the household tools (`loop`). Below all stages: it imports none."""
