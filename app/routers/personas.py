from fastapi import APIRouter

from app.schemas import PersonaPublic
from personas import PERSONAS, public_view

router = APIRouter(prefix="/api/personas", tags=["personas"])


@router.get("", response_model=list[PersonaPublic])
def list_personas() -> list[dict]:
    """The three personas: names and departments in Arabic and English (public)."""
    return [public_view(persona) for persona in PERSONAS.values()]
