"""The gateway's HTTP routes, one APIRouter per area; services/gateway/app.py includes them."""
