from django.http import JsonResponse
from django.urls import path
from rest_framework_simplejwt.views import (TokenBlacklistView, TokenObtainPairView,
                                            TokenRefreshView, TokenVerifyView)

from jwtpeer.views import MeView


def healthz(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("healthz", healthz),
    path("api/token/", TokenObtainPairView.as_view()),
    path("api/token/refresh/", TokenRefreshView.as_view()),
    path("api/token/verify/", TokenVerifyView.as_view()),
    path("api/token/blacklist/", TokenBlacklistView.as_view()),
    path("api/users/me/", MeView.as_view()),
]
