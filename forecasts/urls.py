app_name = "forecasts"

urlpatterns: list = []
