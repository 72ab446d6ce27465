"""Who is who: actors, the one authorization policy, and the tokens that prove which fan is asking."""

from clonr.access.actors import LOCAL_CREATOR, NOBODY, SYSTEM, Actor, ApiKey, Creator, Fan, Nobody, System
from clonr.access.keys import ApiKeyService, NewKey
from clonr.access.oidc import IdentityTokens
from clonr.access.policy import API_FAN_PREFIX, FAN_OPERATIONS, Operation, allowed, authorize
from clonr.access.tokens import FanTokens, LinkCodes, derived_key, secret_key

__all__ = ["API_FAN_PREFIX", "FAN_OPERATIONS", "LOCAL_CREATOR", "NOBODY", "SYSTEM", "Actor", "ApiKey", "ApiKeyService",
           "Creator", "Fan", "FanTokens", "IdentityTokens", "LinkCodes", "NewKey", "Nobody", "Operation", "System",
           "allowed", "authorize", "derived_key", "secret_key"]
