"""Phone-line test tools: a real SIP caller/callee (baresip, `sip_client`) and a signalling-only
INVITE probe (SIPp, `sipp`), both run against LiveKit's SIP service on loopback."""
