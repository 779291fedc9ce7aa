from rest_framework.response import Response
from rest_framework.views import APIView


class MeView(APIView):
    """GET /api/users/me/: the authenticated user (JWTAuthentication, IsAuthenticated)."""

    def get(self, request):
        u = request.user
        return Response({"id": u.id, "username": u.username, "email": u.email,
                         "first_name": u.first_name, "last_name": u.last_name})
