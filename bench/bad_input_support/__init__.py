"""The three sources of bench/bad_input.py (the API under schemathesis, the planning engine under
hypothesis, the Twilio and email-provider webhooks), each returning a `Source` tally."""
