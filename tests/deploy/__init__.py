"""Deploying compiled CloudFormation onto moto in server mode (tests/test_deploy_cloudformation.py)."""
