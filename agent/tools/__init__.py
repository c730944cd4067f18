"""Persona tools, grouped as mixins: each persona's agent class inherits the groups it uses."""

from agent.tools.complaints import ComplaintsTools
from agent.tools.contact import ContactTools, ReceptionTools
from agent.tools.human import HumanTransferTools
from agent.tools.sales import SalesTools

__all__ = [
    "ComplaintsTools",
    "ContactTools",
    "HumanTransferTools",
    "ReceptionTools",
    "SalesTools",
]
