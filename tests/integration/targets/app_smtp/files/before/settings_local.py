"""Local settings of the web application (imported by settings.py)."""
import os

DEBUG = False
ALLOWED_HOSTS = ["app.example.com"]

# Mail: the EMAIL_* values below are written by Ansible (mailops.live_smtp.app_smtp)
EMAIL_HOST = "old.example.com"
EMAIL_TIMEOUT = 20
SECRET_KEY = os.environ.get("APP_SECRET_KEY", "not-for-production")
