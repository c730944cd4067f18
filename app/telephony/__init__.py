"""The phone line: the numbers callers dial, the SIP trunks and dispatch rule LiveKit needs for
them, and outbound callbacks."""
